"""The sparse classifier on the window: its views, parameter groups and step units."""
