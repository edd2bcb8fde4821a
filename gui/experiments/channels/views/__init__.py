"""The channel network's views: channel masks, kept per layer, importance, learning, cost, compaction."""
