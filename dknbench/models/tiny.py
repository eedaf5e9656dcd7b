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


# One tiny random config per family: model type -> its config's own field names. Widths are set
# by tiny_model; dropout is 0 so the attribution paths are deterministic.
_ROPE = dict(hidden_size="d", intermediate_size="ff", num_hidden_layers="L", num_attention_heads="H",
             max_position_embeddings=128)
_GQA = dict(_ROPE, num_key_value_heads="KV")
_ENCODER = dict(_ROPE, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
_ROBERTA = dict(_ENCODER, max_position_embeddings=130)  # positions start after the pad id
TINY_CONFIGS = {
    "gpt2": dict(n_positions=128, n_embd="d", n_layer="L", n_head="H", n_inner="ff", resid_pdrop=0.0,
                 embd_pdrop=0.0, attn_pdrop=0.0),
    "gpt_neo": dict(max_position_embeddings=128, hidden_size="d", num_layers="L", num_heads="H",
                    intermediate_size="ff", attention_types=[[["global", "local"], 1], [["global"], 1]],
                    window_size=8, embed_dropout=0.0, attention_dropout=0.0, resid_dropout=0.0),
    "gptj": dict(n_positions=128, n_embd="d", n_layer="L", n_head="H", n_inner="ff", rotary_dim=4,
                 resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "gpt_neox": dict(_ROPE, hidden_dropout=0.0, attention_dropout=0.0),
    # refused at load (adapters' check): OPT layers flatten [batch, positions] before the MLP
    "opt": dict(hidden_size="d", ffn_dim="ff", num_hidden_layers="L", num_attention_heads="H",
                max_position_embeddings=128, word_embed_proj_dim="d", dropout=0.0),
    "bloom": dict(hidden_size="d", n_layer="L", n_head="H"),  # MLP width is 4 * hidden
    "falcon": dict(hidden_size="d", num_hidden_layers="L", num_attention_heads="H", ffn_hidden_size="ff"),
    "llama": _GQA, "mistral": _GQA, "qwen2": _GQA, "qwen3": dict(_GQA, head_dim=8),
    "gemma": dict(_GQA, head_dim=8), "gemma2": dict(_GQA, head_dim=8), "phi": _ROPE, "phi3": _GQA,
    # sliding and full attention alternate, with a window shorter than the test prompts
    "gemma3_text": dict(_GQA, head_dim=8, sliding_window=4, sliding_window_pattern=2),
    "olmo": _ROPE, "stablelm": dict(_GQA, num_key_value_heads="H"),
    "bert": _ENCODER, "roberta": _ROBERTA, "xlm-roberta": _ROBERTA,
}
MASKED = ("bert", "roberta", "xlm-roberta")
# tiny models that exist to show a refusal (the adapters' probe check refuses them at load)
REFUSED = {"opt": "OPT layers flatten [batch, positions] before the MLP, so neurons cannot be hooked "
                  "per position"}
TINY_FAMILIES = tuple(TINY_CONFIGS)


def tiny_model(family: str, seed: int = 0, n_layers: int = 3, d_model: int = 32,
               d_ff: int = 64, n_heads: int = 4):
    """(model, tokenizer) for a family of TINY_CONFIGS, random weights."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

    if family not in TINY_CONFIGS:
        raise ValueError(f"unknown tiny family {family!r}; allowed: {', '.join(TINY_FAMILIES)}")
    tokenizer = _masked_tokenizer() if family in MASKED else _causal_tokenizer()
    sizes = {"d": d_model, "ff": d_ff, "L": n_layers, "H": n_heads, "KV": max(n_heads // 2, 1)}
    fields = {k: sizes.get(v, v) if isinstance(v, str) else v for k, v in TINY_CONFIGS[family].items()}
    pad = tokenizer.pad_token_id  # position ids of RoBERTa skip the pad id: keep the two in step
    ends = {} if family in MASKED else {"bos_token_id": 0, "eos_token_id": 0}
    config = AutoConfig.for_model(family, vocab_size=len(tokenizer), pad_token_id=pad, **ends, **fields)
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    auto = AutoModelForMaskedLM if family in MASKED else AutoModelForCausalLM
    model = auto.from_config(config, attn_implementation="eager")
    return model.eval(), tokenizer
