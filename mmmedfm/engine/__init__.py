from .hooks import *  # noqa: F401,F403
from .runner import ConciseRunner, ScreenSummaryFilter  # noqa: F401
from .autocast_optim_wrapper import AutocastOptimWrapper  # noqa: F401
