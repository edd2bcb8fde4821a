"""The topographic map: rewiring and STDP form a map (Bamford 2010, Bogdan 2018, Knight et al. 2025)."""
