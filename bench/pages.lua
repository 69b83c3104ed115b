-- wrk: cycle through the pages of the 100,000-row data set, with the API's headers.
-- PAGES and PATH come from the environment (bench/run.sh sets them).
local pages = tonumber(os.getenv("WRK_PAGES") or "1000")
local path = os.getenv("WRK_PATH") or "/d100k/api/v2/platform/call-logs/"
local page_size = os.getenv("WRK_PAGE_SIZE") or "100"
local n = 0
wrk.headers["Org-Handle"] = "acme"
wrk.headers["Authorization"] = "Token secret"
wrk.headers["Accept"] = "application/json"
request = function()
  n = n % pages + 1
  return wrk.format("GET", path .. "?page_size=" .. page_size .. "&page=" .. n)
end
