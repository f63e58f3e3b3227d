"""Trains the SentencePiece BPE tokenizer on OUT/train.txt: byte fallback (no unknown pieces), no
normalisation and no whitespace folding (llama.cpp's "llama" tokenizer applies neither), a dummy
space prefix (llama.cpp adds one). Deterministic for the same corpus. Usage: tokenizer.py CORPUS_DIR VOCAB_SIZE"""
import os, sys
import sentencepiece as spm

def main(corpus, size):
    spm.SentencePieceTrainer.train(
        input=os.path.join(corpus, "train.txt"), model_prefix=os.path.join(corpus, f"sp{size}"),
        model_type="bpe", vocab_size=size, byte_fallback=True, character_coverage=0.9995,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
        split_digits=True, max_sentence_length=20000, num_threads=1, input_sentence_size=0,
        shuffle_input_sentence=False, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
    )

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
