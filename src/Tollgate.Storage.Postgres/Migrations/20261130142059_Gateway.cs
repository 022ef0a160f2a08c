using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Tollgate.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Gateway : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "upstream_latency_sum_micros",
                table: "usage_rollups",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "upstream_latency_micros",
                table: "usage_logs",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "gateway_routes",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    path = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    upstream = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    metered = table.Column<bool>(type: "boolean", nullable: false),
                    cost = table.Column<int>(type: "integer", nullable: false),
                    timeout_seconds = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_gateway_routes", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_gateway_routes_path",
                table: "gateway_routes",
                column: "path",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "gateway_routes");

            migrationBuilder.DropColumn(
                name: "upstream_latency_sum_micros",
                table: "usage_rollups");

            migrationBuilder.DropColumn(
                name: "upstream_latency_micros",
                table: "usage_logs");
        }
    }
}
