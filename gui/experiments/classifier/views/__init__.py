"""The sparse classifier's views: connectivity masks, rewiring, learning, activity, weights and degrees."""
