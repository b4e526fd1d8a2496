"""Build the offline demo assets (tiny models, synthetic SICAPv2 and PatchGastric, a demo whole slide) under
data/demo/."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmedfm.utils.demo_assets import make_demo_assets  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='data/demo', help='output folder')
    parser.add_argument('--force', action='store_true', help='rebuild even if the assets exist')
    args = parser.parse_args(argv)
    for name, path in make_demo_assets(args.root, force=args.force).items():
        print(f'{name}: {path}')


if __name__ == '__main__':
    main()
