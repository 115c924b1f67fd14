using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;

namespace OrleansStream.TestKit;

/// <summary>A request <see cref="TestHttpServer"/> received: its method, path (without the query), content type and body.</summary>
public sealed record TestHttpRequest(string Method, string Path, string? ContentType, byte[] Body);

/// <summary>What <see cref="TestHttpServer"/> answers: a status, and a body of a content type or none.</summary>
public sealed record TestHttpResponse(int StatusCode, string? ContentType = null, byte[]? Body = null)
{
    public static TestHttpResponse Ok { get; } = new(200);

    public static TestHttpResponse NotFound { get; } = new(404);

    public static TestHttpResponse Json(string json, int statusCode = 200) => new(statusCode, "application/json", Encoding.UTF8.GetBytes(json));
}

/// <summary>
/// An HTTP server on 127.0.0.1 and a free port, for the endpoints a test plays (an OTLP collector, an identity
/// provider's JWKS, a schema host): it records every request before answering it with what the test's handler returns,
/// one request at a time, so a client that has its answer finds its request in <see cref="Requests"/>. Disposing stops
/// it and waits for the request in hand.
/// </summary>
public sealed class TestHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<TestHttpRequest, TestHttpResponse> _handler;
    private readonly ConcurrentQueue<TestHttpRequest> _requests = new();
    private readonly Task _serving;

    private TestHttpServer(HttpListener listener, string url, Func<TestHttpRequest, TestHttpResponse> handler)
    {
        _listener = listener;
        _handler = handler;
        Url = url;
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The server's root, <c>http://127.0.0.1:port</c>, with no trailing slash.</summary>
    public string Url { get; }

    /// <summary>The requests received so far, in the order they came; enumerating takes a snapshot.</summary>
    public IReadOnlyCollection<TestHttpRequest> Requests => _requests;

    /// <summary>Starts a server that answers every request (any method, any path) with <paramref name="handler"/>'s response.</summary>
    public static TestHttpServer Start(Func<TestHttpRequest, TestHttpResponse> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        // HttpListener takes no port 0. A reserved port was free when reserved, but another process may bind it before
        // the listener does: then take another.
        for (var attempt = 1; ; attempt++)
        {
            var url = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{TestPorts.Reserve()}");
            var listener = new HttpListener();
            listener.Prefixes.Add(url + "/");
            try
            {
                listener.Start();
                return new TestHttpServer(listener, url, handler);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // closed by DisposeAsync
            }

            try
            {
                await AnswerAsync(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client went away mid-request, or the server is closing: nothing to answer.
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var body = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(body);
        var request = new TestHttpRequest(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray());
        _requests.Enqueue(request);

        TestHttpResponse response;
        try
        {
            response = _handler(request);
        }
        catch (Exception e)
        {
            // A failing handler is the test's bug: the client gets it as a 500 rather than the loop dying unobserved.
            response = new TestHttpResponse(500, "text/plain", Encoding.UTF8.GetBytes(e.ToString()));
        }

        context.Response.StatusCode = response.StatusCode;
        if (response.ContentType is not null) context.Response.ContentType = response.ContentType;
        if (response.Body is { } bytes)
        {
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
        }
        context.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Close();
        await _serving;
    }
}
