package handlers

// PickerLimit caps the options a page's picker (add a member to a team, grant
// an agent, explain someone's access) offers: the first ones by name. A large
// org has 10,000 members and 100,000 agents; listing them all made the team
// page 8 MB and several seconds. The JSON API still takes any id.
const PickerLimit = 500

// GrantsPerPage is how many grants the team page lists at a time (a team
// with 2,000 grants rendered 2 MB of forms).
const GrantsPerPage = 100
