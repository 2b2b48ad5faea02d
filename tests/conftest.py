"Test environment: one thread per worker, the offline data mirror and Hugging Face cache when they exist."
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
os.environ.setdefault('WANDB_MODE', 'offline')
for var, rel in [('LLMLIT_DATA', '../shared/data'), ('LLMLIT_MODELS', '../shared/models'), ('HF_HOME', '../shared/hf')]:
    if var in os.environ: os.environ[var] = str(Path(os.environ[var]).resolve())
    elif (ROOT/rel).exists(): os.environ[var] = str((ROOT/rel).resolve())
if (Path(os.environ.get('HF_HOME', '/nonexistent'))/'hub').exists(): os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch
torch.set_num_threads(1)
