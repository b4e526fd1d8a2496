from .epoch_seed_hook import EpochSeedHook, epoch_seed, seed_everything, seed_worker

__all__ = ['EpochSeedHook', 'epoch_seed', 'seed_everything', 'seed_worker']
