from setuptools import find_packages, setup


def _version():
    scope = {}
    with open('mmmedfm/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


def _requirements(path='requirements.txt'):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


setup(
    name='mmmedfm',
    version=_version(),
    description='Few-shot adaptation of medical vision-language foundation models on MMPretrain',
    packages=find_packages(include=['mmmedfm', 'mmmedfm.*']),
    python_requires='>=3.10',
    install_requires=_requirements(),
    license='Apache-2.0',
)
