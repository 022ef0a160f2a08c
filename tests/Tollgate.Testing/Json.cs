using System.Net.Http.Json;
using System.Text.Json;

namespace Tollgate.Testing;

public static class Json
{
    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.ReadJsonAsync();
        Assert.Equal(status, body.GetProperty("status").GetInt32());
        return body;
    }

    public static Task<HttpResponseMessage> PatchJsonAsync(this HttpClient client, string url, object body) =>
        client.PatchAsync(url, JsonContent.Create(body));

    /// <summary>A POST with no body but a JSON content type, as the admin side's CSRF rule asks of every state-changing request.</summary>
    public static Task<HttpResponseMessage> PostEmptyJsonAsync(this HttpClient client, string url) =>
        client.PostAsync(url, new StringContent("", System.Text.Encoding.UTF8, "application/json"));

    public static StringContent Raw(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
