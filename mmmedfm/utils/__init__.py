from .compat import apply_stack_workarounds
from .setup_env import register_all_modules

apply_stack_workarounds()

__all__ = ['register_all_modules', 'apply_stack_workarounds']
