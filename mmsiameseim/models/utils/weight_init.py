"""Weight initialisation shared by the SiameseIM modules."""
import torch.nn as nn


def xavier_init_linears(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every ``nn.Linear``, as
    SiameseIM (like MAE) does; mmpretrain's layers default otherwise."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
