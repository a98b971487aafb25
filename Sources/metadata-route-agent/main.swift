print("metadata-route-agent")
