using Microsoft.Playwright;

namespace Tollgate.Server.Tests.Browser;

/// <summary>A page's console errors and uncaught exceptions, gathered for a test to assert there were none.</summary>
internal sealed class ConsoleErrors
{
    private readonly List<string> _errors = [];

    /// <summary>Starts gathering <paramref name="page"/>'s errors.</summary>
    public void Watch(IPage page)
    {
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Add($"{page.Url}: {message.Text}");
            }
        };
        page.PageError += (_, error) => Add($"{page.Url}: uncaught {error}");
    }

    /// <summary>Fails with every error gathered so far, if any.</summary>
    public void AssertNone()
    {
        lock (_errors)
        {
            Assert.True(_errors.Count == 0, "Console errors:\n" + string.Join("\n", _errors));
        }
    }

    private void Add(string error)
    {
        lock (_errors)
        {
            _errors.Add(error);
        }
    }
}
