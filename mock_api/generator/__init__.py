"""Synthetic Flinks statement exports for the mock API, with the answers the pipeline should find.

``python -m mock_api.generate`` is the entry point; :func:`generate` does the work.
"""

from mock_api.generator.dataset import GenerateConfig, GenerateSummary, generate

__all__ = ["GenerateConfig", "GenerateSummary", "generate"]
