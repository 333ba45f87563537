//! The phone XML objects of services_url and directory_url, and fetching them over HTTP.
