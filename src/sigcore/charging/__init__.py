"""Online charging: CGrateS-compatible accounts, balances, actions, action plans and triggers (JSON-RPC),
and Diameter Gy/Ro credit control spending them. See docs/charging.md."""
