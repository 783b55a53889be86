"""The trusted caller of an evaluation: steps, verdict, comparison, static check."""
