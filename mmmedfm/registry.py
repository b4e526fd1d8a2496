"""mmmedfm registries: children of mmpretrain's, so configs may name any mmpretrain/mmengine component.

With ``default_scope='mmmedfm'`` a config's ``type='LinearClsHead'`` resolves through the parent chain
(mmmedfm -> mmpretrain -> mmengine), while our own components live in the ``mmmedfm`` scope.
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

_SCOPE = 'mmmedfm'


def _child(name: str, location: str) -> Registry:
    parent = getattr(mmpretrain_registry, name)
    return Registry(parent.name, parent=parent, scope=_SCOPE, locations=[location])


RUNNERS = _child('RUNNERS', 'mmmedfm.engine')
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS', 'mmmedfm.engine')
LOOPS = _child('LOOPS', 'mmmedfm.engine')
HOOKS = _child('HOOKS', 'mmmedfm.engine.hooks')
LOG_PROCESSORS = _child('LOG_PROCESSORS', 'mmmedfm.engine')
OPTIMIZERS = _child('OPTIMIZERS', 'mmmedfm.engine')
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS', 'mmmedfm.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS', 'mmmedfm.engine')
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS', 'mmmedfm.engine')
DATASETS = _child('DATASETS', 'mmmedfm.datasets')
DATA_SAMPLERS = _child('DATA_SAMPLERS', 'mmmedfm.datasets')
TRANSFORMS = _child('TRANSFORMS', 'mmmedfm.datasets.transforms')
MODELS = _child('MODELS', 'mmmedfm.models')
MODEL_WRAPPERS = _child('MODEL_WRAPPERS', 'mmmedfm.models')
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS', 'mmmedfm.models')
BATCH_AUGMENTS = _child('BATCH_AUGMENTS', 'mmmedfm.models')
TASK_UTILS = _child('TASK_UTILS', 'mmmedfm.models')
METRICS = _child('METRICS', 'mmmedfm.evaluation')
EVALUATORS = _child('EVALUATORS', 'mmmedfm.evaluation')
VISUALIZERS = _child('VISUALIZERS', 'mmmedfm.visualization')
VISBACKENDS = _child('VISBACKENDS', 'mmmedfm.visualization')

# PEFT methods are not nn.Modules: they are recipes applied to a built tower (``apply_peft``), so they get a
# registry of their own instead of sharing MODELS with the modules they adapt.
PEFT_METHODS = Registry('peft method', scope=_SCOPE, locations=['mmmedfm.models.peft'])
