"""A literate toolkit for the whole LLM lifecycle: build, pretrain, finetune, align, evaluate and export GPTs with PyTorch Lightning"""

__version__ = "0.0.1"
