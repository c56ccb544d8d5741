//! The OpenAPI document, assembled from the handlers' annotations.

use utoipa::OpenApi;

use crate::dto::*;
use crate::problem::Problem;
use crate::routes::{accounts, queue, sales, system};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stampede",
        description = "Fast, fair ticketing and flash sales. Errors are application/problem+json; see docs/API.md."
    ),
    paths(
        system::healthz,
        system::readyz,
        system::ping,
        system::openapi,
        accounts::signup,
        accounts::login,
        accounts::logout,
        accounts::create_token,
        accounts::me,
        accounts::admin_create_user,
        accounts::admin_bulk_users,
        accounts::admin_set_role,
        sales::create_sale,
        sales::list_sales,
        sales::get_sale,
        sales::open_sale,
        sales::close_sale,
        sales::reserve,
        sales::confirm,
        sales::cancel,
        sales::refund,
        sales::click,
        sales::leaderboard,
        sales::sale_holds,
        sales::results,
        sales::my_holds,
        sales::my_orders,
        queue::join,
        queue::me,
        queue::status,
        queue::watch,
        queue::set_pow,
        queue::pass_key,
        system::admin_stats,
    ),
    components(schemas(
        Problem,
        UserOut,
        SessionOut,
        TokenOut,
        SaleOut,
        HoldOut,
        OrderOut,
        ClickOut,
        LeaderboardOut,
        HoldPage,
        ResultsOut,
        QueueStatusOut,
        QueueTicketOut,
        WaitingRoomOut,
        PassKeyOut,
        StatsOut
    ))
)]
pub struct ApiDoc;
