package handlers

import "guildhall/db/model"

// PickerLimit caps the options a page's picker (add a member to a team, grant
// an agent, explain someone's access) offers: the first ones by name that
// match its search box, which filters on the server as you type. A large org
// has 10,000 members and 100,000 agents; listing them all made the team page
// 8 MB and several seconds, and even 500 of each cost most of the page's
// time. The JSON API still takes any id.
const PickerLimit = 20

// GrantsPerPage is how many grants the team page lists at a time (a team
// with 2,000 grants rendered 2 MB of forms). Each row carries its level form
// and its removal dialog (1.8 KB): rendering and compressing them was most
// of the page's time, and at 50 a page its p99 at 200 requests/s was 12 ms
// against a 10 ms goal; 25 is also the wallet history's page.
const GrantsPerPage = 25

// TeamMembersPerPage is how many members the team page lists at a time,
// as the members list does: a team of 3,000 members rendered 4.8 MB.
const TeamMembersPerPage = model.MembersPerPage

// TeamsPerPage is how many teams the teams page lists at a time: an org with
// 500 teams rendered them all (100 KB), a sixth of the page's throughput.
const TeamsPerPage = 50
