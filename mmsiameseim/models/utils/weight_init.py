"""Weight initialisation shared by the SiameseIM modules."""
import torch.nn as nn


def xavier_init_linears(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every ``nn.Linear``.

    SiameseIM (like MAE) initialises all linear layers this way
    (docs/method.md §3);
    mmpretrain's transformer layers use other defaults, so the SiameseIM
    modules re-initialise them after ``super().init_weights()``.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
