"""Champion and challenger: scoring on the frozen evaluation set, the promotion gate's rules,
and the decisions that move (or refuse to move) the `champion` alias."""
