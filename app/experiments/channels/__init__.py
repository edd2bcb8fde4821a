"""The channel-pruning network (SCA) on the application layer: metrics, records, compaction, figures."""
