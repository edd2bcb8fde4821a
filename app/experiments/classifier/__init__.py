"""The sparse classifier on the application layer: batch metrics, outputs, figures and benchmark."""
