"""The model loop: the conversation with Claude, its tools, and the budgets that stop it.

Only `agent.claude` imports the anthropic SDK.
"""
