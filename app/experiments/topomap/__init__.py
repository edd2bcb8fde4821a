"""The topographic map on the application layer: metrics, figures, summary, frames, lesions."""
