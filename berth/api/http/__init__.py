"""The HTTP/1.1 layer of the API: requests, responses, the router and the asyncio + h11 server."""
