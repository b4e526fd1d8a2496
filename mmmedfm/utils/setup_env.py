import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmmedfm module so its components land in the registries.

    Args:
        init_default_scope (bool): Make ``mmmedfm`` the current default scope so that
            ``Registry.build`` searches our registries first, then mmpretrain's. Defaults to True.
    """
    import mmmedfm.datasets  # noqa: F401,F811
    import mmmedfm.engine  # noqa: F401,F811
    import mmmedfm.evaluation  # noqa: F401,F811
    import mmmedfm.models  # noqa: F401,F811

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmmedfm'):
        DefaultScope.get_instance('mmmedfm', scope_name='mmmedfm')
    elif current.scope_name != 'mmmedfm':
        warnings.warn(f'The current default scope "{current.scope_name}" is not "mmmedfm"; '
                      '`register_all_modules` creates a new default scope "mmmedfm".')
        name = f'mmmedfm-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='mmmedfm')
