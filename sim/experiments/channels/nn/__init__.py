"""The channel experiment's PyTorch modules: network, SCA pruner, compaction, trainer."""
