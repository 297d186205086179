"""Search spaces: parameters, conditional sub-spaces, sampling, grids and encodings."""

from sweepml.space.params import Choice, Const, Float, Int, Param
from sweepml.space.space import Space

__all__ = ["Choice", "Const", "Float", "Int", "Param", "Space"]
