"""The topographic map's views: map, receptive fields, connectivity, activity, quality, synapses, events."""
