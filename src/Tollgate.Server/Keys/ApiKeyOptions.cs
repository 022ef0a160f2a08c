using System.ComponentModel.DataAnnotations;

namespace Tollgate.Keys;

/// <summary>Options bound from <c>Tollgate:Keys</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Keys";

    /// <summary>Most keys held in the in-memory cache. Default 100,000 (about 10 MB).</summary>
    [Range(100, 10_000_000)]
    public int CacheCapacity { get; set; } = 100_000;

    /// <summary>
    /// How long an unknown key is remembered as unknown, so a client hammering with a bad key costs no database
    /// look-ups. Default 30 seconds. New keys are unaffected: nobody can present them before they exist.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan NegativeCacheDuration { get; set; } = TimeSpan.FromSeconds(30);
}
