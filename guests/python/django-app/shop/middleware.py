class ShopHeaderMiddleware:
    """Tags every response with the view that answered it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = request.resolver_match
        response['X-Shop-View'] = match.view_name if match else '-'
        return response
