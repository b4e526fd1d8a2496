from mmmedfm.utils.quiet import quiet_stack_imports

with quiet_stack_imports():
    import mmpretrain.models  # noqa: F401  (imported first, without its known import-time noise)
from .alignment import *  # noqa: F401,F403
from .adapters import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .peft import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
