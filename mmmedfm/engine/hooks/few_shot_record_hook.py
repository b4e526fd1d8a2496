import csv
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmmedfm.registry import HOOKS


def unwrap_dataset(dataset):
    """The dataset inside MMEngine's ``RepeatDataset``/``ClassBalancedDataset`` wrappers (each image once)."""
    while hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset


@HOOKS.register_module()
class FewShotRecordHook(Hook):
    """Write the training images (the few-shot support) to ``{work_dir}/{filename}`` before training.

    One row per training image: ``path, label, class, wsi`` in dataset order, so a run can be audited and its
    support compared across runs/seeds. Written by the main process only.

    Args:
        filename (str): CSV name in the work dir. Defaults to ``'few_shot_support.csv'``.
    """

    priority = 'VERY_LOW'

    def __init__(self, filename: str = 'few_shot_support.csv'):
        self.filename = filename

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        dataset = unwrap_dataset(runner.train_loop.dataloader.dataset)
        classes = dataset.metainfo.get('classes') or ()
        path = osp.join(runner.work_dir, self.filename)
        with open(path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['path', 'label', 'class', 'wsi'])
            for i in range(len(dataset)):
                info = dataset.get_data_info(i)
                label = int(info['gt_label'])
                writer.writerow([info.get('img_path', ''), label,
                                 classes[label] if label < len(classes) else '', info.get('wsi_id') or ''])
        print_log(f'Few-shot support ({len(dataset)} images) written to {path}', logger='current')
