from .compat import apply_safe_loading
from .setup_env import register_all_modules

apply_safe_loading()

__all__ = ['register_all_modules', 'apply_safe_loading']
