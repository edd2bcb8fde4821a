"""Channel masks: a convolutional spiking network whose output channels are pruned by their spiking
activity and regrown by the gradient of their BatchNorm scale (SCA, Li et al. 2024).

- :mod:`.layers`: the layer string (``64C3-AP2-...-10FC``), parsed and checked without torch;
- :mod:`.config`: the configuration root;
- :mod:`.nn`: the PyTorch side (the only modules that import torch): the network
  (:mod:`.nn.network`), the pruner (:mod:`.nn.sca`), compaction, parameters and SynOps
  (:mod:`.nn.compact`), and batch-by-batch training (:mod:`.nn.trainer`).
"""
