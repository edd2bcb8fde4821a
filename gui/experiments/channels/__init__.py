"""Channel pruning and regrowth by spiking activity (SCA) on the window: its views and parameter groups."""
