from .text_embedding_head import TextEmbeddingHead

__all__ = ['TextEmbeddingHead']
