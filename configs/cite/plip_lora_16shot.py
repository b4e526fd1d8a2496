# Kept for existing commands: the headline now lives in configs/peft/ (same merged config, same work_dir name).
_base_ = ['../peft/lora-zs_plip_16shot-20e_sicapv2.py']
