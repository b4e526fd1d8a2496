from .few_shot_record_hook import FewShotRecordHook

__all__ = ['FewShotRecordHook']
