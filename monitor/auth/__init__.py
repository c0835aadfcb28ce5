"""Who may use Vigil and what each may do: accounts and sign-ins in the store, roles, and the web guard."""
