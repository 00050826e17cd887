"""Relief funds (救急难基金, 慈善资金): ledgers with a balance, paid out by cases' relief payments."""
