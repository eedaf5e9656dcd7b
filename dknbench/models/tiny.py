"""Tiny random-weight models for tests and benchmarks, one per supported family.

Built from configs (nothing is downloaded); the tokenizers are trained in memory on a small corpus
so that they behave like the real ones: byte-level BPE with a leading-space marker for causal
models, WordPiece with [MASK] for BERT.
"""

from __future__ import annotations

import torch

CORPUS = [
    "The capital of France is Paris.", "The capital of Italy is Rome.",
    "The capital of Japan is Tokyo.", "The capital of Spain is Madrid.",
    "Paris is the capital city of France.", "Rome is located in Italy.",
    "The official language of Brazil is Portuguese.", "People in Germany speak German.",
    "The currency of Japan is the yen.", "Albert Einstein was a physicist.",
    "The sky is blue and the grass is green.", "A puppy is a young dog.",
    "Mozart was a composer born in Austria.", "The day after Monday is Tuesday.",
]


def _causal_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 3, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def _masked_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS * 3, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def tiny_model(family: str, seed: int = 0, n_layers: int = 3, d_model: int = 32,
               d_ff: int = 64, n_heads: int = 4):
    """(model, tokenizer) for family in gpt2 | llama | gpt_neox | bert, random weights."""
    from transformers import (BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel,
                              GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM)

    tokenizer = _masked_tokenizer() if family == "bert" else _causal_tokenizer()
    vocab = len(tokenizer)
    torch.manual_seed(seed)
    if family == "gpt2":
        config = GPT2Config(vocab_size=vocab, n_positions=128, n_embd=d_model, n_layer=n_layers,
                            n_head=n_heads, n_inner=d_ff, resid_pdrop=0.0, embd_pdrop=0.0,
                            attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
        model = GPT2LMHeadModel(config)
    elif family == "llama":
        config = LlamaConfig(vocab_size=vocab, hidden_size=d_model, intermediate_size=d_ff,
                             num_hidden_layers=n_layers, num_attention_heads=n_heads,
                             num_key_value_heads=n_heads // 2, max_position_embeddings=128,
                             bos_token_id=0, eos_token_id=0, pad_token_id=0)
        model = LlamaForCausalLM(config)
    elif family == "gpt_neox":
        config = GPTNeoXConfig(vocab_size=vocab, hidden_size=d_model, intermediate_size=d_ff,
                               num_hidden_layers=n_layers, num_attention_heads=n_heads,
                               max_position_embeddings=128, bos_token_id=0, eos_token_id=0,
                               hidden_dropout=0.0, attention_dropout=0.0)
        model = GPTNeoXForCausalLM(config)
    elif family == "bert":
        config = BertConfig(vocab_size=vocab, hidden_size=d_model, intermediate_size=d_ff,
                            num_hidden_layers=n_layers, num_attention_heads=n_heads,
                            max_position_embeddings=128, hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0, pad_token_id=0)
        model = BertForMaskedLM(config)
    else:
        raise ValueError(f"unknown tiny family {family!r}; allowed: gpt2, llama, gpt_neox, bert")
    model.config._attn_implementation = "eager"
    return model.eval(), tokenizer


def tiny_loaded(family: str, **kwargs):
    """A LoadedModel around tiny_model(...)."""
    from .loading import wrap_model

    model, tokenizer = tiny_model(family, **kwargs)
    return wrap_model(f"tiny-{family}", model, tokenizer)
