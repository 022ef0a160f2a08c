using System.ComponentModel.DataAnnotations;

namespace Tollgate.Keys;

/// <summary>Options bound from <c>Tollgate:Keys</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Keys";

    /// <summary>
    /// Most keys held in the cache in front of the key index, each with its resolved caller, so that a request with one
    /// of them allocates nothing. Every key is decided from the key index without the database whether it is cached or
    /// not; a key outside the cache costs one small allocation per request. Default 10,000 (about 1.6 MB).
    /// </summary>
    [Range(100, 10_000_000)]
    public int CacheCapacity { get; set; } = 10_000;

    /// <summary>
    /// How long an unknown key is remembered as unknown, so a client hammering with a bad key costs no database
    /// look-ups. Default 30 seconds. New keys are unaffected: nobody can present them before they exist.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan NegativeCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often each instance reads the newest keys into its key index, for keys made where the change feed did not
    /// reach (instances without Redis, a lost message). Default 5 seconds; a key made through this instance's admin
    /// API, or any instance's when Redis is set, is known at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan IndexRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often each instance re-reads, from the database, the tenants and plans and the state (revoked, expiry) of
    /// the keys it has used since: the changes made on another instance reach this one within this time even where the
    /// change feed does not carry them (no Redis, or a message lost while Redis was away). Default 10 seconds; 0 never.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Of the keys the key index has never seen, how many a second each instance still checks against the database.
    /// They cover the moment between a key's creation on another instance and the change feed's message about it;
    /// past this budget (a flood of made-up keys) the answer is 401 from memory. Default 50; 0 never checks.
    /// </summary>
    [Range(0, 100_000)]
    public int IndexMissChecksPerSecond { get; set; } = 50;
}
