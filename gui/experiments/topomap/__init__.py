"""The topographic map on the window: its views, parameter groups and Lesion menu."""
