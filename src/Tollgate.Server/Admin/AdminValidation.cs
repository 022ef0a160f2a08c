using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Tollgate.Admin;

/// <summary>Checks of admin input; each adds what is wrong to an error map that becomes a 400.</summary>
internal static class AdminValidation
{
    /// <summary>Longest name of a plan, tenant, key or admin.</summary>
    public const int MaxNameLength = 100;
    /// <summary>Largest quota limit.</summary>
    public const long MaxQuota = 1_000_000_000_000;
    /// <summary>Longest rate window: one day.</summary>
    public const int MaxRateWindowSeconds = 86_400;

    /// <summary>A trimmed name of 1 to <see cref="MaxNameLength"/> printable characters, or null (with an error).</summary>
    public static string? Name(string? value, Dictionary<string, string[]> errors, string field = "name")
    {
        var name = value?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
        {
            errors[field] = [$"A {field} of 1 to {MaxNameLength} characters is required."];
            return null;
        }

        if (!IsPrintable(name))
        {
            errors[field] = [$"The {field} may not hold control or invisible formatting characters (NUL, line breaks, zero-width or direction marks)."];
            return null;
        }

        return name;
    }

    /// <summary>
    /// Whether a name has something visible and nothing that hides or reorders text: no control (Cc), format (Cf:
    /// zero-width spaces and joiners, direction overrides), line or paragraph separator, private-use or unpaired
    /// surrogate character. Names show in pages, logs and CSV exports, where such characters disguise one name as another.
    /// </summary>
    public static bool IsPrintable(string value)
    {
        var visible = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                var category = CharUnicodeInfo.GetUnicodeCategory(value, i);
                if (category is UnicodeCategory.Format or UnicodeCategory.PrivateUse)
                {
                    return false;
                }

                visible = true;
                i++;
                continue;
            }

            switch (char.GetUnicodeCategory(c))
            {
                case UnicodeCategory.Control:
                case UnicodeCategory.Format:
                case UnicodeCategory.LineSeparator:
                case UnicodeCategory.ParagraphSeparator:
                case UnicodeCategory.PrivateUse:
                case UnicodeCategory.Surrogate:
                    return false;
                case UnicodeCategory.SpaceSeparator:
                    break;
                default:
                    visible = true;
                    break;
            }
        }

        return visible;
    }

    /// <summary>An optional time that must lie ahead of <paramref name="now"/>, in UTC.</summary>
    public static DateTime? FutureTime(DateTime? value, DateTime now, Dictionary<string, string[]> errors, string field)
    {
        var utc = value?.ToUniversalTime();
        if (utc <= now)
        {
            errors[field] = ["The time must be in the future."];
        }

        return utc;
    }

    /// <summary>A password an admin sets: 12 to 1024 characters.</summary>
    public static void Password(string? value, Dictionary<string, string[]> errors, string field = "password")
    {
        if (value is null || value.Length < AdminAccounts.MinPasswordLength || value.Length > AdminAccounts.MaxPasswordLength)
        {
            errors[field] = [$"A password of {AdminAccounts.MinPasswordLength} to {AdminAccounts.MaxPasswordLength} characters is required."];
        }
    }

    /// <summary>Checks a quota; a missing one is an error only when <paramref name="required"/>.</summary>
    public static void Quota(QuotaDto? quota, Dictionary<string, string[]> errors, string field, bool required)
    {
        if (quota is null)
        {
            if (required)
            {
                errors[field] = ["A quota {\"limit\",\"period\"} is required."];
            }

            return;
        }

        if (quota.Limit < 1 || quota.Limit > MaxQuota)
        {
            errors[field + ".limit"] = [$"The quota limit must be between 1 and {MaxQuota}."];
        }

        if (!Enum.IsDefined(quota.Period))
        {
            errors[field + ".period"] = ["The period must be Minute, Hour, Day or Month."];
        }
    }

    /// <summary>Checks an optional rate.</summary>
    public static void Rate(RateDto? rate, Dictionary<string, string[]> errors, string field)
    {
        if (rate is null)
        {
            return;
        }

        if (rate.Limit < 1)
        {
            errors[field + ".limit"] = ["The rate limit must be at least 1."];
        }

        if (rate.WindowSeconds < 1 || rate.WindowSeconds > MaxRateWindowSeconds)
        {
            errors[field + ".windowSeconds"] = [$"The window must be between 1 and {MaxRateWindowSeconds} seconds."];
        }
    }

    /// <summary>A 400 listing what is wrong.</summary>
    public static ValidationProblem Problem(Dictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors);

    /// <summary>A 404 saying <paramref name="what"/> does not exist.</summary>
    public static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: $"{what} does not exist.");

    /// <summary>A 409.</summary>
    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    /// <summary>A 403.</summary>
    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);
}

/// <summary>
/// A JSON merge-patch body (RFC 7396): a member that is absent leaves the field alone, a member that is null
/// clears it. Reading from a <see cref="JsonElement"/> is what tells the two apart.
/// </summary>
internal sealed class MergePatch(JsonElement root, JsonSerializerOptions options)
{
    /// <summary>Whether the body is a JSON object (anything else is a 400).</summary>
    public bool IsObject => root.ValueKind == JsonValueKind.Object;

    /// <summary>Whether the body has the member, null or not.</summary>
    public bool Has(string member) => root.TryGetProperty(member, out _);

    /// <summary>Reads a present member; false (with an error) when it does not fit <typeparamref name="T"/>.</summary>
    public bool TryRead<T>(string member, Dictionary<string, string[]> errors, out T? value)
    {
        value = default;
        if (!root.TryGetProperty(member, out var element))
        {
            return false;
        }

        try
        {
            value = element.Deserialize<T>(options);
            return true;
        }
        catch (JsonException)
        {
            errors[member] = [$"'{member}' has the wrong type or shape."];
            return false;
        }
    }
}
